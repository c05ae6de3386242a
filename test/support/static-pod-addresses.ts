// A PodAddressMap the tests fill by hand: the pod runtime's contract without the runtime, so the
// Service proxy and the member Prometheus can be tested against stand-in pod processes (servers
// the test starts on loopback) for the real pods of a real member.
import type { PodAddress, PodAddressMap } from '../../src/localfleet/runtime/pod-addresses.ts';

export class StaticPodAddresses implements PodAddressMap {
  private readonly byIp = new Map<string, PodAddress>();
  private readonly listeners = new Set<() => void>();

  set(p: PodAddress): void {
    this.byIp.set(p.podIp, p);
    this.changed();
  }

  delete(podIp: string): void {
    if (this.byIp.delete(podIp)) this.changed();
  }

  loopbackFor(podIp: string): string | undefined {
    return this.byIp.get(podIp)?.loopback;
  }

  list(): readonly PodAddress[] {
    return [...this.byIp.values()];
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
