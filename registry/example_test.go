package registry_test

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/etcp-go/etcp/registry"
)

// A server keeps each connection in a Local registry under its PID's id,
// and can then find it by name, by owner or by peer address.
func ExampleLocal() {
	r := registry.NewLocal()

	events := make(chan registry.Event, 8)
	cancel, _ := r.Subscribe(func(ev registry.Event) { events <- ev })
	defer cancel()

	conn := actor.NewPID("nonhost", "etcp/srv1/acceptor-1/c42")
	err := r.Register(conn.Id, conn, registry.Meta{
		Owner:     "srv1",
		ConnID:    42,
		Peer:      netip.MustParseAddrPort("192.0.2.7:51000"),
		Local:     netip.MustParseAddrPort("127.0.0.1:7000"),
		Transport: "tcp",
		Started:   time.Now(),
	})
	if err != nil {
		panic(err)
	}
	// A user-chosen name for the same connection.
	_ = r.Register("device-17", conn, registry.Meta{Owner: "srv1", Tags: []registry.Tag{{"fw", "2.1"}}})

	e, _ := r.Lookup("device-17")
	fmt.Println("device-17 is", e.PID.Id)
	byPeer, _ := r.Select(registry.ByPeer(netip.MustParseAddrPort("192.0.2.7:0")))
	fmt.Println("from 192.0.2.7:", len(byPeer))

	err = r.Register("device-17", actor.NewPID("nonhost", "other"), registry.Meta{})
	fmt.Println(errors.Is(err, registry.ErrNameTaken))

	_ = r.Unregister("device-17", conn)
	for range 3 { // delivered in order, from the subscription's goroutine
		ev := <-events
		fmt.Println(ev.Kind, ev.Entry.Name)
	}

	_, err = registry.None().Select(registry.ByOwner("srv1"))
	fmt.Println(err)
	// Output:
	// device-17 is etcp/srv1/acceptor-1/c42
	// from 192.0.2.7: 1
	// true
	// registered etcp/srv1/acceptor-1/c42
	// registered device-17
	// unregistered device-17
	// etcp/registry: no process registry
}
