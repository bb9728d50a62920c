package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
)

// The load generator runs at a lower priority than the servers it
// measures (-nice N, default 10, added to the tool's nice value): on a
// shared machine the servers then get the CPU they ask for before the
// generator does, so a figure depends less on what else runs there. The
// generator is this process's goroutines and the redis-benchmark processes
// it starts. Raising one's own nice value is allowed to any user, unlike
// giving the servers a higher priority, so this works without root too.
//
// Linux keeps the nice value per thread: setpriority(PRIO_PROCESS, pid)
// changes the thread whose id is pid only, and a new thread or process
// inherits the nice value of the thread that created it. Hence:
//
//   - every server is started from the launcher, a goroutine locked to an
//     OS thread of its own that keeps the tool's original priority, so the
//     servers keep it too;
//   - every other thread of the tool is reniced, one at a time from
//     /proc/self/task, until a pass finds none left. Threads the Go runtime
//     creates later are cloned from reniced threads (a locked thread, such
//     as the launcher's, hands thread creation to the runtime's template
//     thread, itself reniced), so they are reniced as well;
//   - the launcher's goroutine never unlocks its thread, so that thread
//     exits with it instead of running generator goroutines, and it ends
//     only after every server has stopped: Pdeathsig kills a child when the
//     thread that started it exits.
//
// When the run ends the tool tries to take its nice value back (allowed to
// root only; this matters to the tests, which call run in-process).

// launcher starts processes from a thread kept at the original priority.
type launcher struct {
	tid  int // the launcher's thread
	reqs chan launchRequest
	done chan struct{}

	lowered   bool
	from, to  int // nice values before and after lower
	generator int // nice value of the generator's threads (from if not lowered)
}

type launchRequest struct {
	cmd *exec.Cmd
	err chan<- error
}

// startLauncher starts the launcher goroutine.
func startLauncher() *launcher {
	l := &launcher{reqs: make(chan launchRequest), done: make(chan struct{})}
	tid := make(chan int)
	go func() {
		defer close(l.done)
		// Not unlocked on purpose: the thread ends with this goroutine.
		runtime.LockOSThread()
		tid <- syscall.Gettid()
		for r := range l.reqs {
			r.err <- r.cmd.Start()
		}
	}()
	l.tid = <-tid
	if st, err := readStat(os.Getpid(), l.tid); err == nil {
		l.from, l.to, l.generator = st.nice, st.nice, st.nice
	}
	return l
}

// start runs cmd.Start on the launcher's thread.
func (l *launcher) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	l.reqs <- launchRequest{cmd: cmd, err: errc}
	return <-errc
}

// lower adds by to the nice value of every thread of this process except
// the launcher's (capped at 19, the lowest priority).
func (l *launcher) lower(by int) error {
	if by <= 0 {
		return nil
	}
	to := min(l.from+by, 19)
	if to == l.from {
		return nil
	}
	if err := reniceThreads(l.tid, to); err != nil {
		return err
	}
	l.lowered, l.to, l.generator = true, to, to
	if st, err := readStat(os.Getpid(), syscall.Gettid()); err == nil {
		l.generator = st.nice // what this very thread has now
	}
	return nil
}

// close stops the launcher (after the servers it started have stopped)
// and, where permitted, gives the other threads their nice value back.
func (l *launcher) close() {
	close(l.reqs)
	<-l.done
	if l.lowered {
		// Only root may lower a nice value; anyone else keeps the new one.
		_ = reniceThreads(0, l.from)
	}
}

// reniceThreads sets the nice value of every thread of this process other
// than except to nice, passing over /proc/self/task until no thread is new.
func reniceThreads(except, nice int) error {
	done := map[int]bool{except: true}
	for pass := 0; pass < 100; pass++ {
		tids, err := threadIDs()
		if err != nil {
			return err
		}
		changed := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice)
			if err != nil && !errors.Is(err, syscall.ESRCH) { // ESRCH: the thread has exited
				return fmt.Errorf("setpriority(thread %d, %d): %w", tid, nice, err)
			}
			done[tid] = true
			changed++
		}
		if changed == 0 {
			return nil
		}
	}
	return errors.New("renice: new threads keep appearing")
}

// threadIDs lists the threads of this process.
func threadIDs() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
