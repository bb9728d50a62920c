package security

import (
	"context"
	"net"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/stretchr/testify/require"

	"github.com/etcp-go/etcp/actors"
)

// BenchmarkRemoteCall is a Call from this process's node to a connection
// on a node in another process, and its reply, one at a time: through
// protoactor's own remote with no guard (plain, the baseline), with the
// cookie, with mutual TLS, and with mutual TLS and roles.
func BenchmarkRemoteCall(b *testing.B) {
	for _, mode := range []struct {
		name       string
		env        []string // the victim's
		plain, tls bool
	}{
		{name: "plain", env: []string{plainEnv + "=1"}, plain: true},
		{name: "cookie"},
		{name: "mutual-tls", tls: true},
		{name: "mutual-tls+roles", env: []string{rolesEnv + "=default=read,ops=all"}, tls: true},
	} {
		b.Run(mode.name, func(b *testing.B) {
			p := newPKI(b, "bench CA")
			env := append([]string{actionsEnv + "=1"}, mode.env...)
			b.Setenv(tlsDirEnv, "")
			if mode.tls {
				env = append(env, tlsDirEnv+"="+p.dir("victim"))
			}
			v := start(b, "victim", env...)
			c, err := net.Dial("tcp", v.first[1])
			require.NoError(b, err)
			defer c.Close()

			sys := actors.NewSystem(nil)
			defer sys.Shutdown()
			if mode.plain {
				b.Setenv(plainEnv, "1")
			} else if mode.tls {
				b.Setenv(tlsDirEnv, p.dir("ops"))
			}
			node, err := startNode(sys)
			require.NoError(b, err)
			defer node.Shutdown()
			if mode.plain {
				defer remote.GetRemote(sys).Shutdown(true)
			}
			ctx := context.Background()
			var ids []string
			require.Eventually(b, func() bool { ids, err = listConns(ctx, node, v.first[0]); return len(ids) == 1 },
				wait, 5e6, "%v", err)
			pid := actor.NewPID(v.first[0], ids[0])
			call := func() {
				if _, err := actors.Request(ctx, sys.Root, pid, &actors.Call{Request: "x"}); err != nil {
					b.Fatal(err)
				}
			}
			for range 100 { // connected and warm
				call()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				call()
			}
		})
	}
}
