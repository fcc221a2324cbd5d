// Package proc tells whether a process that registered an engine
// instance is still running, when it ran on this host.
package proc

import (
	"os"
	"strconv"
)

// Identity names a process well enough to tell, later and from another
// process on the same host, whether it still runs.
type Identity struct {
	// Host identifies the machine and, where the system has them, its boot
	// and PID namespace: two identities with the same Host can compare
	// PIDs. Empty where nothing better than the host name is known and
	// PIDs should not be trusted.
	Host string
	PID  int
	// Start is the process's start time as the system counts it, to tell
	// it from a later process that reused the PID; empty where unknown.
	Start string
}

// Self returns this process's identity.
func Self() Identity {
	return Identity{Host: hostKey(), PID: os.Getpid(), Start: startTime(os.Getpid())}
}

// Gone reports whether the process id names has surely ended. It is
// false whenever it cannot be sure: another host, an unknown system, a
// process it may not signal. A zombie, or a process that reused the PID,
// counts as ended.
func Gone(id Identity) bool {
	self := Self()
	if id.Host == "" || id.Host != self.Host || id.PID <= 0 {
		return false
	}
	if id.PID == self.PID {
		return id.Start != "" && id.Start != self.Start
	}
	return gone(id)
}

func itoa(n int) string { return strconv.Itoa(n) }
