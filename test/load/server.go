package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is one echo server process under test.
type server struct {
	name string
	argv []string
	cmd  *exec.Cmd
	addr string // address to dial, always 127.0.0.1:PORT

	stderr *tailBuffer

	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed

	// baseRSS is the server's VmRSS in bytes, read once right after it
	// printed `listening` (-1 if unreadable).
	baseRSS int64

	stopOnce sync.Once
	stopErr  error
}

// startServer starts argv with start (cmd.Start if nil), reads its first
// stdout line `listening HOST:PORT` and returns the running server.
// startTimeout bounds the wait for that line.
func startServer(ctx context.Context, name string, argv []string, startTimeout time.Duration, start func(*exec.Cmd) error) (*server, error) {
	// Our own pipe for stdout, so that Wait does not depend on draining it.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s, err := spawn(name, argv, pw, start)
	pw.Close()
	if err != nil {
		pr.Close()
		return nil, err
	}

	lineCh := make(chan string, 1)
	errCh := make(chan error, 1)
	go func() {
		defer pr.Close()
		br := bufio.NewReader(io.LimitReader(pr, 64<<10))
		line, err := br.ReadString('\n')
		if err != nil {
			errCh <- err
			return
		}
		lineCh <- line
		// Keep draining stdout so that the server never blocks on it.
		_, _ = io.Copy(io.Discard, pr)
	}()

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	var line string
	select {
	case line = <-lineCh:
	case err = <-errCh:
	case <-timer.C:
		err = fmt.Errorf("no first line within %v", startTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		s.addr, err = parseListening(line)
	}
	if err != nil {
		_ = s.stop()
		return nil, fmt.Errorf("server %s (%s): waiting for `listening HOST:PORT`: %w%s",
			name, strings.Join(argv, " "), err, s.stderrTail())
	}
	s.readBaseRSS()
	return s, nil
}

// spawn starts argv as a server process with start (cmd.Start if nil), its
// stdout going to stdout (nil: into the stderr tail), and waits for it in
// the background.
func spawn(name string, argv []string, stdout *os.File, start func(*exec.Cmd) error) (*server, error) {
	s := &server{
		name:   name,
		argv:   argv,
		stderr: &tailBuffer{max: 8 << 10},
		done:   make(chan struct{}),
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = s.stderr
	cmd.Stdout = s.stderr
	if stdout != nil {
		cmd.Stdout = stdout
	}
	// Bound the wait for output copying if a grandchild keeps it open.
	cmd.WaitDelay = 2 * time.Second
	// Kill the server if this process (more exactly, the thread that
	// started it: see launcher) dies without stopping it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if start == nil {
		start = (*exec.Cmd).Start
	}
	if err := start(cmd); err != nil {
		return nil, fmt.Errorf("server %s: start %q: %w", name, strings.Join(argv, " "), err)
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// readBaseRSS records the server's VmRSS right after it started.
func (s *server) readBaseRSS() {
	rss, err := readRSS(s.pid())
	if err != nil {
		// Only the memory tests need it; they report the error themselves.
		rss = -1
	}
	s.baseRSS = rss
}

// parseListening parses `listening HOST:PORT` and returns 127.0.0.1:PORT.
// Hosts other than 127.0.0.1 (or unspecified ones) are refused so that all
// traffic stays on 127.0.0.1.
func parseListening(line string) (string, error) {
	line = strings.TrimSpace(line)
	rest, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		return "", fmt.Errorf("first line is %q", line)
	}
	host, port, err := net.SplitHostPort(strings.TrimSpace(rest))
	if err != nil {
		return "", fmt.Errorf("first line %q: %w", line, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("first line %q: bad port", line)
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || (ip != nil && ip.IsUnspecified()):
	case ip != nil && ip.Equal(net.IPv4(127, 0, 0, 1)):
	default:
		return "", fmt.Errorf("first line %q: server must listen on 127.0.0.1", line)
	}
	return net.JoinHostPort("127.0.0.1", port), nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// exited returns an error if the server process has exited.
func (s *server) exited() error {
	select {
	case <-s.done:
		return fmt.Errorf("server %s exited unexpectedly: %v%s", s.name, s.waitErr, s.stderrTail())
	default:
		return nil
	}
}

// failure decorates a measurement error with the server state.
func (s *server) failure(err error) error {
	if e := s.exited(); e != nil {
		return fmt.Errorf("%w (%v)", err, e)
	}
	return err
}

// stop sends SIGTERM, waits for the process to exit and reports a non-zero
// exit status. After a grace period the process is killed.
func (s *server) stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.done:
			s.stopErr = s.exited()
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		const grace = 10 * time.Second
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-s.done:
			if s.waitErr != nil {
				s.stopErr = fmt.Errorf("server %s: did not exit cleanly on SIGTERM: %v%s", s.name, s.waitErr, s.stderrTail())
			}
		case <-t.C:
			_ = s.cmd.Process.Kill()
			<-s.done
			s.stopErr = fmt.Errorf("server %s: still running %v after SIGTERM; killed%s", s.name, grace, s.stderrTail())
		}
	})
	return s.stopErr
}

func (s *server) stderrTail() string {
	t := strings.TrimSpace(s.stderr.String())
	if t == "" {
		return ""
	}
	return "\n--- server " + s.name + " stderr (tail) ---\n" + t
}

// readRSS returns VmRSS of pid in bytes.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: odd VmRSS line %q", pid, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// nice returns the server's nice value as text ("?" if unreadable).
func (s *server) nice() string {
	st, err := readStat(s.pid(), 0)
	if err != nil {
		return "?"
	}
	return strconv.Itoa(st.nice)
}
