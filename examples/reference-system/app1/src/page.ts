// The shop's one HTML page: the catalogue from APP 2, who served it, and a small order form.

export interface PageModel {
  readonly app1Cluster: string;
  readonly app2Cluster: string | undefined;
  readonly items: readonly { id: string; name: string; priceCents: number }[];
  readonly error?: string;
}

const escape = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function renderPage(m: PageModel): string {
  const rows = m.items
    .map(
      (i) =>
        `<tr><td>${escape(i.name)}</td><td>${(i.priceCents / 100).toFixed(2)}</td>` +
        `<td><button data-item="${escape(i.id)}">order</button></td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Meridian shop</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto}td{padding:.2rem .8rem}</style></head>
<body>
<h1>Meridian shop</h1>
<p>Served by APP 1 in <b>${escape(m.app1Cluster)}</b>, catalogue from APP 2 in <b>${escape(m.app2Cluster ?? 'none')}</b>.</p>
${m.error ? `<p role="alert">${escape(m.error)}</p>` : ''}
<table>${rows}</table>
<pre id="out"></pre>
<script>
for (const b of document.querySelectorAll('button[data-item]')) {
  b.onclick = async () => {
    const res = await fetch('orders', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ item: b.dataset.item, quantity: 1 }) });
    document.getElementById('out').textContent = res.status + ' ' + JSON.stringify(await res.json(), null, 2);
  };
}
</script>
</body>
</html>
`;
}
