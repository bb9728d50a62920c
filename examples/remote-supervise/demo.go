package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// demoKinds are the demo devices' kinds, in turn, and what each sends.
var demoKinds = []struct {
	kind     string
	readings []string
}{
	{"sensor", []string{"lux 310", "lux 305", "lux 298"}},
	{"door", []string{"closed", "open", "closed"}},
	{"thermostat", []string{"temp 21.5", "temp 22.0", "temp 22.5"}},
}

// demoName is the name demo device i (from 1) logs in as.
func demoName(i int) string {
	return fmt.Sprintf("%s-%d", demoKinds[(i-1)%len(demoKinds)].kind, i)
}

// demoDevices are the peers -demo dials: plain TCP clients in this
// process, each on a goroutine of its own.
type demoDevices struct {
	conns []net.Conn
	wg    sync.WaitGroup
	once  sync.Once
}

// startDemo dials n devices to addr, waits until each is logged in, and
// leaves each sending a reading every period.
func startDemo(addr string, n int, every time.Duration) (*demoDevices, error) {
	d := &demoDevices{}
	for i := 1; i <= n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			d.stop()
			return nil, fmt.Errorf("demo device %d: %w", i, err)
		}
		d.conns = append(d.conns, c)
		r := bufio.NewReader(c)
		// "welcome", then the reply to the login.
		if err := exchange(c, r, "", "welcome"); err != nil {
			d.stop()
			return nil, fmt.Errorf("demo device %d: %w", i, err)
		}
		if err := exchange(c, r, "login "+demoName(i), "ok 1"); err != nil {
			d.stop()
			return nil, fmt.Errorf("demo device %d: %w", i, err)
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			readings := demoKinds[(i-1)%len(demoKinds)].readings
			t := time.NewTicker(every)
			defer t.Stop()
			for k := 0; ; k++ {
				<-t.C
				// The gateway answers "ok N"; an operator's cast arrives
				// as a line of its own, read as the next reply and ignored.
				if err := exchange(c, r, readings[k%len(readings)], ""); err != nil {
					return // stopped, drained, or the process ends
				}
			}
		}()
	}
	return d, nil
}

// exchange sends line (if any) and reads one line back, which must be
// want (if any).
func exchange(c net.Conn, r *bufio.Reader, line, want string) error {
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	if line != "" {
		if _, err := c.Write([]byte(line + "\n")); err != nil {
			return err
		}
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if want != "" && got != want+"\n" {
		return errors.New("the gateway said " + got)
	}
	return nil
}

// stop closes every device's connection and waits for its goroutine.
// Safe to call more than once.
func (d *demoDevices) stop() {
	if d == nil {
		return
	}
	d.once.Do(func() {
		for _, c := range d.conns {
			c.Close()
		}
		d.wg.Wait()
	})
}
