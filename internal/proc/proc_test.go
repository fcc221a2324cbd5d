package proc_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/matryer/is"

	"github.com/dboslite/dboslite/internal/proc"
)

func TestGone(t *testing.T) {
	is := is.New(t)
	self := proc.Self()
	is.True(self.PID == os.Getpid()) // this process
	is.True(!proc.Gone(self))        // is running

	cmd := exec.Command("sleep", "60")
	is.NoErr(cmd.Start())
	child := self
	child.PID = cmd.Process.Pid
	child.Start = ""
	is.True(!proc.Gone(child)) // a running child is not gone
	is.NoErr(cmd.Process.Kill())
	if self.Host == "" {
		cmd.Wait()
		t.Skip("this system gives no host key; PIDs are not compared")
	}
	// Killed but not reaped, the child is a zombie: it counts as ended.
	// Nothing signals the moment it becomes one, so look until then.
	deadline := time.Now().Add(5 * time.Second)
	for !proc.Gone(child) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	is.True(proc.Gone(child)) // a zombie is gone
	cmd.Wait()
	is.True(proc.Gone(child)) // reaped: gone

	reused := self
	reused.Start = "1"                             // as if this PID had belonged to an older process
	is.True(proc.Gone(reused) || self.Start == "") // a reused PID is not the old process

	other := self
	other.Host = "another-host"
	is.True(!proc.Gone(other)) // another host's processes are never judged
}
