// Package process is the shell the long-running components run in: the
// flags they share (Flags), their logger, the signals that stop them, the
// admin endpoints /livez, /readyz and /healthz (Health), and the drain
// sequence (Servers.Run): on SIGTERM a component reports not ready, keeps
// serving for its drain window so that whatever sends it traffic notices,
// then shuts its servers down within its shutdown timeout.
//
// A component's Main keeps only its own flags and wiring; its Run method
// hands its listeners to Servers.Run.
package process
