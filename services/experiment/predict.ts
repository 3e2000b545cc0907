// What the profile predicts one request costs from the UE: the topology model's round trips (one on a reused
// connection, two on a new one: the handshake is delayed too) plus the time the path's narrowest rate needs for
// the request's and the answer's bytes. The run adds the workload's service time measured idle on the site's raw
// port just before it, so "measured − predicted" is what load, queueing and the host added. Pure.
import { pathImpairment, requestBudget, type Topology } from '../topology/index.ts';

export interface RequestShapeBytes {
  newConnection: boolean;
  /** Request body bytes (the inspect image). */
  upBytes: number;
  /** Response body bytes. */
  downBytes: number;
}

export function serializationSeconds(bytes: number, rateBitsPerSecond: number | null): number {
  return rateBitsPerSecond === null ? 0 : (bytes * 8) / rateBitsPerSecond;
}

/** The network part of one request from `from` to `site`, in seconds. */
export function predictedNetworkSeconds(
  topology: Topology,
  site: string,
  shape: RequestShapeBytes,
  from = 'ue',
): number {
  const budget = requestBudget(topology, from, site);
  const up = pathImpairment(topology, from, site).rateBitsPerSecond;
  const down = pathImpairment(topology, site, from).rateBitsPerSecond;
  return (
    (shape.newConnection ? budget.newConnectionSeconds : budget.reusedConnectionSeconds) +
    serializationSeconds(shape.upBytes, up) +
    serializationSeconds(shape.downBytes, down)
  );
}

/** 1 − edge/cloud: the share of the cloud's latency the edge saves (negative when the edge is slower). */
export function reduction(edge: number, cloud: number): number {
  return cloud === 0 ? 0 : 1 - edge / cloud;
}
