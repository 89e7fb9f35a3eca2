// Package registry is the register of facilities (备案): each facility's
// identity, 9-digit street code, time zone, coordinates, opening hours,
// rooms with their types, devices with their kinds and where they publish,
// the gateways registered to it, and the operators its alerts go to first.
//
// It is the one schema and the one loader of that record. The gateway reads
// its own facility's file with Load; the collector, the alerting service,
// the compliance rollup, the report and the simulator read every facility
// through a Registry. The centre trusts the registry, never what a gateway
// says about itself: a reading is stored under the region, room and device
// the registry gives it, and a gateway, device or region the registry does
// not list for the facility is refused.
//
// # The facility file
//
// One YAML file per facility; configs/facility.example.yaml documents every
// key. Unknown keys are errors, and every error names the file, the key and
// the reason (internal/config.Error), so an installer can fix the YAML
// without reading code. No environment variable overrides a key: a registry
// is a folder of many files, and one variable would relabel all of them.
//
// # Sources, snapshots and reloads
//
// A Source produces the registry's entries: Dir reads a folder of facility
// files; Static holds facilities built in code (tests, benchmarks); the
// access database will be another. A Registry reads its source at Open,
// where any invalid entry fails start-up, and again on every poll of Run.
// Readers call Snapshot, which returns an immutable *Snapshot: a reload
// builds a new one and publishes it with one atomic store, so a reader
// never sees half a reload and never needs a lock. Keep the snapshot for
// one unit of work (a batch, a rollup) and take a new one for the next.
//
// A reload rejects an invalid entry alone: its last good version stays in
// force (an entry never loaded stays out), the other entries' changes
// apply, and the rejection is counted and logged once with its file, key
// and reason. Two entries claiming one facility ID or one gateway ID are a
// conflict: the entry that changed loses and keeps its last good version.
//
// Dir polls the folder's file names, sizes and modification times rather
// than using inotify: it needs only the standard library (the gateway links
// this package), it works where inotify does not (network file systems,
// Kubernetes ConfigMap volumes, which swap a symlink), and a stat per file
// every ten seconds costs little even for thousands of files. A file
// modified within the file system's timestamp resolution of its last read
// is read again at the next poll, so an edit in the same tick as a read is
// not missed. Write facility files atomically (write a temporary file,
// rename it): a half-written file read mid-write is rejected and counted,
// then read whole at the next poll.
package registry
