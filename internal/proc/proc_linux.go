package proc

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"
)

// hostKey is the host name, the boot ID and the PID namespace: PIDs are
// comparable only within one boot of one namespace, and containers on
// one machine may share a host name.
func hostKey() string {
	host, _ := os.Hostname()
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return host + "/" + strings.TrimSpace(string(boot)) + "/" + ns
}

// stat returns the fields of /proc/<pid>/stat after the command name,
// whose parentheses may hold spaces: state is [0], start time [19].
func stat(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("malformed stat")
	}
	return strings.Fields(string(b[i+1:])), nil
}

func startTime(pid int) string {
	f, err := stat(pid)
	if err != nil || len(f) < 20 {
		return ""
	}
	return f[19]
}

func gone(id Identity) bool {
	f, err := stat(id.PID)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil || len(f) < 20 {
		return false
	}
	if f[0] == "Z" || f[0] == "X" { // a zombie, or dead
		return true
	}
	return id.Start != "" && f[19] != id.Start
}
