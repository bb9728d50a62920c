package netns

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

// The harness: every node (and the device) is the test binary again, run
// inside a network namespace with `ip netns exec NS`, in a child mode
// selected by envChild. A child answers one line per command line on
// stdin/stdout; its first line is Init's, and "quit" makes it close and
// exit, with "bye" as its last line.

// envChild selects the child mode: a key of children.
const envChild = "ETCP_NETNS_CHILD"

// A child is one mode's command set.
type child struct {
	init     func() string
	commands map[string]func(args []string) string
	close    func()
}

// serveChild runs the child mode named by envChild, if set, and exits.
func serveChild(children map[string]func() *child) {
	name := os.Getenv(envChild)
	if name == "" {
		return
	}
	mk, ok := children[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "netns: unknown child mode %q\n", name)
		os.Exit(2)
	}
	c := mk()
	out := bufio.NewWriter(os.Stdout)
	reply := func(l string) { fmt.Fprintln(out, l); out.Flush() }
	reply(c.init())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "quit" {
			break
		}
		h, ok := c.commands[f[0]]
		if !ok {
			reply("error unknown command " + f[0])
			continue
		}
		reply(h(f[1:]))
	}
	c.close()
	reply("bye")
	os.Exit(0)
}

// proc is a child seen from the test.
type proc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan struct{}
	err   error // cmd.Wait's, once done is closed
	mu    sync.Mutex
	first string // Init's line
}

// startChild runs the test binary in mode inside namespace ns, with env
// added, and reads its first line.
func startChild(t *testing.T, ns, mode string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), envChild+"="+mode, "GORACE=atexit_sleep_ms=0"), env...)
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
	p := &proc{t: t, name: mode + "@" + ns, cmd: cmd, in: in, lines: make(chan string, 16), done: make(chan struct{})}
	eof := make(chan struct{})
	go func() {
		defer close(p.lines)
		defer close(eof)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		<-eof // Wait closes the pipe: only after the last read (exec.Cmd's rule)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	p.first = p.read()
	return p
}

// read returns the child's next line, failing the test if it ended or
// said nothing for 30 s.
func (p *proc) read() string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.done
			p.t.Fatalf("%s ended: %v", p.name, p.err)
		}
		return l
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s did not answer within 30 s", p.name)
	}
	return ""
}

// do sends one command and returns the reply line.
func (p *proc) do(format string, args ...any) string {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := fmt.Fprintf(p.in, format+"\n", args...); err != nil {
		p.t.Fatalf("%s: writing a command: %v", p.name, err)
	}
	return p.read()
}

// quit asks the child to close and exit, and fails the test unless it
// says "bye" and exits with status 0 (under -race, a race it found gives
// status 66).
func (p *proc) quit() {
	p.t.Helper()
	if l := p.do("quit"); l != "bye" {
		p.t.Errorf("%s: quit answered %q", p.name, l)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Fatalf("%s did not exit within 30 s of quit", p.name)
	}
	if p.err != nil {
		p.t.Errorf("%s exited: %v", p.name, p.err)
	}
}

// kill ends the child if it still runs (a failed test), and waits.
func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
	}
	for range p.lines { // let the reader goroutine reach EOF
	}
	<-p.done
}
