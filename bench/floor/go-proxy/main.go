// EXPERIMENT — bench-only, not product code (docs/benchmarks.md, "Gateway data-plane floor").
// What a Go data plane would cost per request: net/http's server and httputil.ReverseProxy with a
// tuned Transport (keep-alive to the upstream, no compression, no HTTP/2), the same header work as
// the other proxies in the gateway bench (Host kept, X-Forwarded-For/-Proto/-Host/-Port). No access
// log, metrics, retries or TLS. Standard library only. GOMAXPROCS sets the threads it runs Go on.
//
//	go build -o /tmp/go-proxy . && GOMAXPROCS=1 /tmp/go-proxy -listen 127.0.0.1:8080 -upstream http://127.0.0.1:8081
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// bufferPool reuses ReverseProxy's body copy buffers instead of allocating 32 KiB per request.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32*1024)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	upstream := flag.String("upstream", "http://127.0.0.1:8081", "upstream base URL")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	_, port, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatal(err)
	}
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       60 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // keep the client's Host, as the other proxies do
			r.SetXForwarded()      // X-Forwarded-For (appended), -Host, -Proto
			r.Out.Header.Set("X-Forwarded-Port", port)
		},
		Transport:  transport,
		BufferPool: &bufferPool{},
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           proxy,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	log.Fatal(srv.ListenAndServe())
}
