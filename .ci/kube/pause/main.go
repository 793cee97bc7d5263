// Command pause is the sandbox process of the offline cluster's Pods (the
// image named by containerd's sandbox_image): it holds the Pod's
// namespaces, reaps the children it inherits as PID 1, and exits on
// SIGTERM or SIGINT. Built locally so no registry is needed.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Several children may end behind one SIGCHLD: reap them all.
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
