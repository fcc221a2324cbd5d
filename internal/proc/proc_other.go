//go:build !unix

package proc

// hostKey is empty: PIDs are not compared here, and a dead instance is
// found by its lease alone.
func hostKey() string { return "" }

func startTime(int) string { return "" }

func gone(Identity) bool { return false }
