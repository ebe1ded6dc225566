// What every fault suite starts with: the real mesh, typed clients to it, and
// a watch that fails the test when a process dies unexpectedly, all torn down
// by the suite's Cleanup.
import { CrashWatch, startFaultMesh, type Cleanup, type FaultMesh, type FaultMeshOptions } from './faults-infra';
import { MeshApi } from './faults-workload';

export async function startWatchedMesh(cleanup: Cleanup, options?: FaultMeshOptions): Promise<{ mesh: FaultMesh; api: MeshApi; watch: CrashWatch }> {
  const mesh = await startFaultMesh(options);
  cleanup.add('mesh', () => mesh.teardown());
  const api = new MeshApi(mesh.urls.command, mesh.urls.query);
  cleanup.add('clients', () => api.close());
  const watch = new CrashWatch(mesh);
  cleanup.add('crash watch', () => watch.stop());
  return { mesh, api, watch };
}
