// Package nodetest runs registry nodes in separate OS processes for tests:
// a test binary re-executes itself with [EnvVar] set, and its TestMain
// hands over to [Main], which serves one line-based command at a time on
// stdin/stdout. The parent drives it through a [Proc].
//
// # Why processes
//
// Several protoactor remotes in one process are not isolated: each
// remote.Start rewrites gRPC's process-wide logger while the others'
// servers read it (a data race under -race), PIDs cache the first actor
// system that used them, and kill -9 of a node is only real for a
// process. Each node therefore runs alone in its own process.
package nodetest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvVar selects the child mode of a test binary; its value names the
// command set to serve (a key of the map given to [Main]).
const EnvVar = "ETCP_REGISTRY_NODE"

// A Handler answers one command line with one reply line (no newline).
type Handler func(args []string) string

// A Server is a child's command set: Init runs once at start and returns
// the first line the parent reads (e.g. "ready <address>"), Commands
// answer the lines that follow, and Close runs on "quit" or at the end of
// input.
type Server struct {
	Init     func() string
	Commands map[string]Handler
	Close    func()
}

// Main serves the command set named by [EnvVar], if it is set, and exits;
// it returns at once in the parent. Call it first in TestMain.
func Main(servers map[string]func() *Server) {
	name := os.Getenv(EnvVar)
	if name == "" {
		return
	}
	mk, ok := servers[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "nodetest: unknown server %q\n", name)
		os.Exit(2)
	}
	s := mk()
	out := bufio.NewWriter(os.Stdout)
	reply := func(line string) {
		fmt.Fprintln(out, line)
		out.Flush()
	}
	reply(s.Init())
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "quit" {
			break
		}
		h, ok := s.Commands[f[0]]
		if !ok {
			reply("error unknown command " + f[0])
			continue
		}
		reply(h(f[1:]))
	}
	if s.Close != nil {
		s.Close()
	}
	reply("bye")
	os.Exit(0)
}

// A Proc is a child node process seen from the parent.
type Proc struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	First string // the line Init returned
	mu    sync.Mutex
	done  chan struct{}
	err   error // cmd.Wait's, once done is closed
}

// Start runs the test binary as a child serving the named command set,
// with env added to its environment, and waits for its first line.
func Start(t testing.TB, server string, env ...string) *Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), EnvVar+"="+server), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Proc{t: t, cmd: cmd, in: in, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.Kill)
	p.First = p.read(30 * time.Second)
	return p
}

func (p *Proc) read(timeout time.Duration) string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("nodetest: child %d ended", p.cmd.Process.Pid)
		}
		return l
	case <-time.After(timeout):
		p.t.Fatalf("nodetest: child %d did not answer within %v", p.cmd.Process.Pid, timeout)
	}
	return ""
}

// Do sends one command line and returns the reply line.
func (p *Proc) Do(format string, args ...any) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.in, format+"\n", args...); err != nil {
		p.t.Fatalf("nodetest: writing to child: %v", err)
	}
	return p.read(60 * time.Second)
}

// Quit asks the child to close and exit, and waits for it (at most
// timeout, then it is killed).
func (p *Proc) Quit(timeout time.Duration) {
	p.mu.Lock()
	_, _ = fmt.Fprintln(p.in, "quit")
	p.mu.Unlock()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
	}
}

// Exited reports how the child exited, once Quit or Kill returned: nil
// for status 0. Under -race, a child in which the race detector found a
// race exits with status 66.
func (p *Proc) Exited() error {
	<-p.done
	return p.err
}

// Kill ends the child with SIGKILL (kill -9) and waits for it.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
	for range p.lines { // drain the reader goroutine
	}
}

// Signal sends sig to the child (syscall.SIGSTOP freezes it with its
// connections open; SIGCONT resumes it).
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }
