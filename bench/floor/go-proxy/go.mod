module meridian.example/bench/floor/go-proxy

go 1.26
