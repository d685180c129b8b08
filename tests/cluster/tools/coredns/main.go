// CoreDNS for the local cluster's real node, with only the plugins it uses:
// the cluster's names (kubernetes), a cache, errors to the log, the listen
// address (bind) and a readiness endpoint (ready). No forward plugin, so a
// query for any other name is refused here and never leaves this machine.
// CoreDNS documents this way of choosing plugins: a main package of one's
// own that imports them and sets the directive order (coremain, dnsserver).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// The plugins' order in a request's chain, as in CoreDNS's plugin.cfg.
	dnsserver.Directives = []string{"bind", "ready", "errors", "cache", "kubernetes"}
}

func main() { coremain.Run() }
