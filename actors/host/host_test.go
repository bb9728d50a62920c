package host_test

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/etcp-go/etcp/actors"
	"github.com/etcp-go/etcp/actors/host"
	"github.com/etcp-go/etcp/behaviours"
)

type ownerOptions struct {
	name string
	actors.ConnOptions
}

type otherOptions struct{ actors.ConnOptions }

// TestApply: an owner's options and the shared ones apply to its Options;
// one of another owner, a nil one and an Options without ConnOptions are
// invalid options.
func TestApply(t *testing.T) {
	withName := host.OwnOption("owner.WithName", func(o *ownerOptions) { o.name = "x" })
	var o ownerOptions
	if err := host.Apply(&o, []actors.Option{withName, actors.WithMailboxLimit(7)}); err != nil {
		t.Fatal(err)
	}
	if o.name != "x" || o.MailboxLimit != 7 {
		t.Fatalf("applied %+v", o)
	}
	for _, tc := range []struct {
		o    any
		opts []actors.Option
	}{
		{&otherOptions{}, []actors.Option{withName}},
		{&ownerOptions{}, []actors.Option{nil}},
		{&struct{}{}, nil},
	} {
		if err := host.Apply(tc.o, tc.opts); !errors.Is(err, actors.ErrInvalidOptions) {
			t.Errorf("Apply(%T) = %v, want ErrInvalidOptions", tc.o, err)
		}
	}
}

// TestNewGroup: a group and its spawner are made through the hooks, and
// bad options are refused.
func TestNewGroup(t *testing.T) {
	sys := actors.NewSystem(slog.New(slog.DiscardHandler))
	defer sys.Shutdown()
	factory := func() behaviours.Handler { return behaviours.Base{} }
	g, err := host.NewGroup(sys, "t", &actors.ConnOptions{}, factory, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host.NewSpawner(g) == nil {
		t.Fatal("no spawner")
	}
	if s := g.Stats(); s.Up != 0 {
		t.Fatalf("a new group counts %+v", s)
	}
	g.Wait()
	if _, err := host.NewGroup(sys, "t", &actors.ConnOptions{MailboxLimit: -1}, factory, nil); !errors.Is(err, actors.ErrInvalidOptions) {
		t.Fatalf("a negative MailboxLimit: %v", err)
	}
}
