package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/etcp-go/etcp/server"
	"github.com/etcp-go/etcp/server/manage"
)

func cmdHello(ctx context.Context, x *cli, args []string) error {
	if _, err := parse(flag.NewFlagSet("hello", flag.ContinueOnError), args, 0, "no argument"); err != nil {
		return err
	}
	h := x.c.Hello()
	if x.json {
		return x.printJSON(h)
	}
	return x.table([]string{"NODE", "PROTOCOL", "ACTIONS", "MUTUAL-TLS", "CLUSTER", "SERVERS", "POOLS"}, [][]string{{
		h.Node, strconv.Itoa(h.Protocol), strconv.FormatBool(h.Actions), strconv.FormatBool(h.MutualTLS),
		strconv.FormatBool(h.Cluster), strings.Join(h.Servers, ","), strings.Join(h.Pools, ","),
	}})
}

func cmdServers(ctx context.Context, x *cli, args []string) error {
	if _, err := parse(flag.NewFlagSet("servers", flag.ContinueOnError), args, 0, "no argument"); err != nil {
		return err
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	var servers []manage.Server
	var err error
	if x.cluster {
		servers, err = x.c.ClusterServers(rctx)
	} else {
		servers, err = x.c.Servers(rctx)
	}
	if err = x.partial(err); err != nil {
		return err
	}
	if x.json {
		return x.printJSON(servers)
	}
	rows := make([][]string, 0, len(servers))
	for _, s := range servers {
		mode := s.Mode
		if !s.Uniform {
			mode += "*"
		}
		limit := strconv.Itoa(s.MaxConnections)
		if s.MaxConnections == 0 || s.MaxConnections == server.NoLimit {
			limit = "none"
		}
		rows = append(rows, []string{s.Node, s.Name, s.Addr, mode, strconv.Itoa(s.Active), limit,
			strconv.FormatInt(s.Accepted, 10), strconv.FormatInt(s.Terminated, 10), strconv.FormatInt(s.Rejected, 10),
			strconv.Itoa(s.Acceptors), strconv.FormatInt(s.AcceptorRestarts, 10),
			strconv.Itoa(s.Conns.Hibernated)})
	}
	return x.table([]string{"NODE", "SERVER", "ADDR", "MODE", "ACTIVE", "LIMIT", "ACCEPTED", "ENDED", "REJECTED",
		"ACCEPTORS", "RESTARTS", "HIBERNATED"}, rows)
}

func cmdAcceptors(ctx context.Context, x *cli, args []string) error {
	pos, err := parse(flag.NewFlagSet("acceptors", flag.ContinueOnError), args, 1, "SERVER")
	if err != nil {
		return err
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	as, err := x.c.Acceptors(rctx, pos[0])
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(as)
	}
	rows := make([][]string, 0, len(as))
	for _, a := range as {
		rows = append(rows, []string{strconv.Itoa(a.ID), a.Mode, strconv.FormatInt(a.Restarts, 10), a.PID})
	}
	return x.table([]string{"ID", "MODE", "RESTARTS", "PID"}, rows)
}

func cmdPools(ctx context.Context, x *cli, args []string) error {
	if _, err := parse(flag.NewFlagSet("pools", flag.ContinueOnError), args, 0, "no argument"); err != nil {
		return err
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	var pools []manage.Pool
	var err error
	if x.cluster {
		pools, err = x.c.ClusterPools(rctx)
	} else {
		pools, err = x.c.Pools(rctx)
	}
	if err = x.partial(err); err != nil {
		return err
	}
	if x.json {
		return x.printJSON(pools)
	}
	var rows [][]string
	for _, p := range pools {
		for _, c := range p.Connections {
			rows = append(rows, []string{p.Node, p.Name, strconv.Itoa(p.Live), strconv.FormatUint(c.ID, 10), c.Addr,
				c.State, strconv.Itoa(c.Restarts), c.LastExit})
		}
		if len(p.Connections) == 0 {
			rows = append(rows, []string{p.Node, p.Name, strconv.Itoa(p.Live), "-", "-", "-", "-", p.Err})
		}
	}
	return x.table([]string{"NODE", "POOL", "LIVE", "CONN", "ADDR", "STATE", "RESTARTS", "LAST-EXIT"}, rows)
}

// connFlags are the filters and order of conns and top.
type connFlags struct {
	owner, kind, peer, state, sort string
	minBytes                       uint64
	n                              int
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.owner, "owner", "", "only connections of this server, pool or client")
	fs.StringVar(&f.kind, "kind", "any", "only connections of: server, pool, client, any")
	fs.StringVar(&f.peer, "peer", "", "only peers whose address starts so (10.0.0.) or is in a CIDR prefix (10.0.0.0/8)")
	fs.StringVar(&f.state, "state", "", "only connections in this state: up, hibernated, passivated, closing")
	fs.Uint64Var(&f.minBytes, "min-bytes", 0, "only connections with at least this many bytes in and out")
	fs.StringVar(&f.sort, "sort", "bytes", "order: bytes, bytes-in, bytes-out, age, mailbox, idle, id")
	fs.IntVar(&f.n, "n", 20, "how many (the top N)")
}

func (f *connFlags) query() (manage.Query, error) {
	k, err := manage.ParseKind(f.kind)
	if err != nil {
		return manage.Query{}, usagef("%v", err)
	}
	s, err := manage.ParseSortKey(f.sort)
	if err != nil {
		return manage.Query{}, usagef("%v", err)
	}
	if f.n < 1 || f.n > manage.MaxLimit {
		return manage.Query{}, usagef("-n %d: want 1 to %d", f.n, manage.MaxLimit)
	}
	return manage.Query{Owner: f.owner, Kind: k, PeerPrefix: f.peer, State: f.state, MinBytes: f.minBytes,
		Sort: s, Limit: f.n}, nil
}

func (x *cli) conns(ctx context.Context, q manage.Query) (manage.ConnList, error) {
	rctx, cancel := x.req(ctx)
	defer cancel()
	var l manage.ConnList
	var err error
	if x.cluster {
		l, err = x.c.ClusterConns(rctx, q)
	} else {
		l, err = x.c.Conns(rctx, q)
	}
	return l, x.partial(err)
}

func (x *cli) connTable(l manage.ConnList) error {
	rows := make([][]string, 0, len(l.Conns))
	for _, c := range l.Conns {
		row := []string{c.Handle(), c.Kind.String(), c.Peer, c.State, c.Mode(), ago(c.Age()), ago(c.Idle()),
			size(c.BytesIn), size(c.BytesOut), strconv.FormatUint(c.FramesIn, 10), strconv.FormatUint(c.FramesOut, 10),
			strconv.Itoa(c.Mailbox)}
		if x.cluster {
			row = append([]string{c.Node}, row...)
		}
		rows = append(rows, row)
	}
	header := []string{"CONN", "KIND", "PEER", "STATE", "MODE", "AGE", "IDLE", "IN", "OUT", "FRAMES-IN", "FRAMES-OUT", "MAILBOX"}
	if x.cluster {
		header = append([]string{"NODE"}, header...)
	}
	if err := x.table(header, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintf(x.stdout, "%d of %d matched, of %d\n", len(l.Conns), l.Matched, l.Total)
	return err
}

func cmdConns(ctx context.Context, x *cli, args []string) error {
	fs := flag.NewFlagSet("conns", flag.ContinueOnError)
	var f connFlags
	f.register(fs)
	if _, err := parse(fs, args, 0, "no argument"); err != nil {
		return err
	}
	q, err := f.query()
	if err != nil {
		return err
	}
	l, err := x.conns(ctx, q)
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(l)
	}
	return x.connTable(l)
}

func cmdClients(ctx context.Context, x *cli, args []string) error {
	if _, err := parse(flag.NewFlagSet("clients", flag.ContinueOnError), args, 0, "no argument"); err != nil {
		return err
	}
	l, err := x.conns(ctx, manage.Query{Kind: manage.KindClient, Sort: manage.SortID, Limit: manage.MaxLimit})
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(l.Conns)
	}
	return x.connTable(l)
}

// clearScreen moves the cursor home and clears the terminal (ANSI).
const clearScreen = "\x1b[H\x1b[2J"

// cmdTop lists the top connections every -interval, on a cleared screen,
// until interrupted (or -count times).
func cmdTop(ctx context.Context, x *cli, args []string) error {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	var f connFlags
	f.register(fs)
	interval := fs.Duration("interval", time.Second, "refresh every")
	count := fs.Int("count", 0, "stop after this many refreshes (0: until interrupted)")
	if _, err := parse(fs, args, 0, "no argument"); err != nil {
		return err
	}
	q, err := f.query()
	if err != nil {
		return err
	}
	if *interval <= 0 {
		return usagef("-interval %v", *interval)
	}
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	for i := 0; *count == 0 || i < *count; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
		l, err := x.conns(ctx, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fmt.Fprint(x.stdout, clearScreen)
		fmt.Fprintf(x.stdout, "etcpctl top  %s  %s  sort %s  every %v\n\n", x.c.Addr(),
			time.Now().Format("15:04:05"), q.Sort, *interval)
		if x.json {
			if err := x.printJSON(l); err != nil {
				return err
			}
			continue
		}
		if err := x.connTable(l); err != nil {
			return err
		}
	}
	return nil
}

// ref reads a CONN argument.
func ref(s string) (manage.ConnRef, error) {
	r, err := manage.ParseConnRef(s)
	if err != nil {
		return r, usagef("%v", err)
	}
	return r, nil
}

func cmdInspect(ctx context.Context, x *cli, args []string) error {
	pos, err := parse(flag.NewFlagSet("inspect", flag.ContinueOnError), args, 1, "CONN")
	if err != nil {
		return err
	}
	r, err := ref(pos[0])
	if err != nil {
		return err
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	d, err := x.c.Inspect(rctx, r)
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(d)
	}
	c := d.Conn
	state := d.StateType + " " + d.State
	if d.StateError != "" {
		state = "(" + d.StateError + ")"
	}
	rows := [][]string{
		{"conn", c.Handle()},
		{"pid", c.PID},
		{"node", c.Node},
		{"owner", c.Owner + " (" + c.Kind.String() + ")"},
		{"peer", c.Peer},
		{"local", c.Local},
		{"transport", c.Transport},
		{"state", c.State + " (" + c.Mode() + ")"},
		{"started", c.Started.Format(time.RFC3339Nano) + " (age " + ago(c.Age()) + ")"},
		{"last frame", c.LastFrame.Format(time.RFC3339Nano) + " (idle " + ago(c.Idle()) + ")"},
		{"bytes", "in " + strconv.FormatUint(c.BytesIn, 10) + ", out " + strconv.FormatUint(c.BytesOut, 10)},
		{"frames", "in " + strconv.FormatUint(c.FramesIn, 10) + ", out " + strconv.FormatUint(c.FramesOut, 10)},
		{"mailbox", strconv.Itoa(c.Mailbox)},
		{"handler", state},
		{"tracing", map[bool]string{true: "on", false: "off"}[d.Tracing]},
	}
	tw := x.stdout
	for _, r := range rows {
		fmt.Fprintf(tw, "%-11s %s\n", r[0], r[1])
	}
	for _, ev := range d.Trace {
		fmt.Fprintln(tw, "  "+ev.String())
	}
	return nil
}

// payload reads a call's or cast's payload: a string, or a []byte with
// -bytes.
func payload(s string, asBytes bool) any {
	if asBytes {
		return []byte(s)
	}
	return s
}

func cmdCall(ctx context.Context, x *cli, args []string) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	asBytes := fs.Bool("bytes", false, "send the payload as a []byte, not a string")
	pos, err := parse(fs, args, 2, "CONN PAYLOAD")
	if err != nil {
		return err
	}
	r, err := ref(pos[0])
	if err != nil {
		return err
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	reply, err := x.c.Call(rctx, r, payload(pos[1], *asBytes))
	if err != nil {
		// The call's result, where its value would be; the exit says it failed.
		if x.json {
			_ = x.printJSON(map[string]string{"error": err.Error()})
		} else {
			fmt.Fprintf(x.stdout, "error: %v\n", err)
		}
		return fmt.Errorf("%w: call %s: %w", errShown, r, err)
	}
	if x.json {
		return x.printJSON(reply)
	}
	switch v := reply.Value.(type) {
	case []byte:
		_, err = fmt.Fprintf(x.stdout, "%q (%s)\n", v, reply.Type)
	default:
		_, err = fmt.Fprintf(x.stdout, "%v (%s)\n", v, reply.Type)
	}
	return err
}

func cmdCast(ctx context.Context, x *cli, args []string) error {
	fs := flag.NewFlagSet("cast", flag.ContinueOnError)
	asBytes := fs.Bool("bytes", false, "send the payload as a []byte, not a string")
	pos, err := parse(fs, args, 2, "CONN PAYLOAD")
	if err != nil {
		return err
	}
	r, err := ref(pos[0])
	if err != nil {
		return err
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	return x.done(x.c.Cast(rctx, r, payload(pos[1], *asBytes)), "cast to %s", r)
}

// done reports an action's success.
func (x *cli) done(err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(map[string]string{"done": fmt.Sprintf(format, args...)})
	}
	_, err = fmt.Fprintf(x.stdout, format+"\n", args...)
	return err
}

func cmdStop(ctx context.Context, x *cli, args []string) error {
	fs := flag.NewFlagSet("stop", flag.ContinueOnError)
	reason := fs.String("reason", "", "the reason Terminate sees (none: a normal stop)")
	srv := fs.String("server", "", "stop this server instead (every connection's Terminate sees the reason)")
	pos, err := parse(fs, args, -1, "")
	if err != nil {
		return err
	}
	if (*srv == "") == (len(pos) != 1) || len(pos) > 1 {
		return usagef("stop wants CONN, or -server NAME")
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	if *srv != "" {
		return x.done(x.c.StopServer(rctx, *srv, *reason), "stopped server %s", *srv)
	}
	r, err := ref(pos[0])
	if err != nil {
		return err
	}
	return x.done(x.c.Stop(rctx, r, *reason), "stopped %s", r)
}

func cmdHibernate(ctx context.Context, x *cli, args []string) error {
	pos, err := parse(flag.NewFlagSet("hibernate", flag.ContinueOnError), args, 1, "CONN")
	if err != nil {
		return err
	}
	r, err := ref(pos[0])
	if err != nil {
		return err
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	return x.done(x.c.Hibernate(rctx, r), "hibernated %s", r)
}

func cmdSleep(ctx context.Context, x *cli, args []string) error {
	pos, err := parse(flag.NewFlagSet("sleep", flag.ContinueOnError), args, 1, "SERVER")
	if err != nil {
		return err
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	return x.done(x.c.SleepServer(rctx, pos[0]), "%s sleeps: not accepting", pos[0])
}

func cmdWake(ctx context.Context, x *cli, args []string) error {
	fs := flag.NewFlagSet("wake", flag.ContinueOnError)
	conn := fs.String("conn", "", "wake this hibernated connection instead")
	pos, err := parse(fs, args, -1, "")
	if err != nil {
		return err
	}
	if (*conn == "") == (len(pos) != 1) || len(pos) > 1 {
		return usagef("wake wants SERVER, or -conn CONN")
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	if *conn != "" {
		r, err := ref(*conn)
		if err != nil {
			return err
		}
		return x.done(x.c.Wake(rctx, r), "woke %s", r)
	}
	return x.done(x.c.WakeServer(rctx, pos[0]), "%s accepting", pos[0])
}

func cmdLimit(ctx context.Context, x *cli, args []string) error {
	pos, err := parse(flag.NewFlagSet("limit", flag.ContinueOnError), args, 2, "SERVER N")
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(pos[1])
	if err != nil || n < 0 {
		return usagef("limit: %q is not a connection limit", pos[1])
	}
	rctx, cancel := x.req(ctx)
	defer cancel()
	return x.done(x.c.SetMaxConnections(rctx, pos[0], n), "%s limited to %d connections", pos[0], n)
}

func cmdDrain(ctx context.Context, x *cli, args []string) error {
	fs := flag.NewFlagSet("drain", flag.ContinueOnError)
	grace := fs.Duration("grace", 10*time.Second, "how long connections may take to end before they are stopped")
	pos, err := parse(fs, args, 1, "SERVER")
	if err != nil {
		return err
	}
	last := -1 // connections left at the last report: print changes only
	final, err := x.c.Drain(ctx, pos[0], *grace, func(p manage.DrainProgress) {
		if p.Done || p.Active == last {
			return
		}
		last = p.Active
		if x.json {
			_ = x.printJSON(p)
			return
		}
		fmt.Fprintf(x.stdout, "draining %s: %d connections left after %v\n", p.Server, p.Active, ago(p.Elapsed))
	})
	if err != nil {
		return err
	}
	if x.json {
		return x.printJSON(final)
	}
	how := "all connections ended"
	if final.Forced {
		how = "the grace passed: the rest were stopped"
	}
	_, err = fmt.Fprintf(x.stdout, "drained %s in %v: %s; server stopped\n", final.Server, ago(final.Elapsed), how)
	return err
}

func cmdTrace(ctx context.Context, x *cli, args []string) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	n := fs.Int("n", 0, "stop after this many events (0: until interrupted)")
	on := fs.Bool("on", false, "keep tracing on without streaming (its last events show in inspect)")
	off := fs.Bool("off", false, "turn tracing off, ending every stream")
	pos, err := parse(fs, args, 1, "CONN")
	if err != nil {
		return err
	}
	r, err := ref(pos[0])
	if err != nil {
		return err
	}
	switch {
	case *on && *off:
		return usagef("trace: -on or -off, not both")
	case *on || *off:
		rctx, cancel := x.req(ctx)
		defer cancel()
		return x.done(x.c.SetTracing(rctx, r, *on), "tracing of %s %s", r, map[bool]string{true: "on", false: "off"}[*on])
	}
	rctx, cancel := x.req(ctx)
	tr, err := x.c.Trace(rctx, r, *n)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), x.timeout)
		defer cancel()
		_ = tr.Close(cctx)
	}()
	fmt.Fprintf(x.stderr, "tracing %s (interrupt to stop)\n", r)
	for {
		ev, err := tr.Next(ctx)
		switch {
		case errors.Is(err, manage.ErrEnded):
			fmt.Fprintf(x.stderr, "trace of %s ended: %v\n", r, err)
			return nil
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		}
		if x.json {
			if err := x.printJSON(ev); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(x.stdout, ev.String())
	}
}
