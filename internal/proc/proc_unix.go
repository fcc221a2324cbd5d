//go:build unix && !linux

package proc

import (
	"errors"
	"os"
	"syscall"
)

// hostKey is the host name: without a boot ID, a reboot that reused a
// PID looks like the same process, which only delays adoption until the
// instance's lease expires.
func hostKey() string {
	host, _ := os.Hostname()
	return host
}

func startTime(int) string { return "" }

func gone(id Identity) bool {
	return errors.Is(syscall.Kill(id.PID, 0), syscall.ESRCH)
}
