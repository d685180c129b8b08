// goserver: the sreracha request path in Go's net/http, for bench/app_rps.sh to
// compare the C++ app with. It answers like the app (/?q= -> 200 JSON with an
// 8-ball answer and the counter, no q -> 400, other paths 404, GET/HEAD only)
// and writes a JSON access log line per request with log/slog. The counter
// ticks in memory: the app's request path never touches Redis either.
package main

import (
	"encoding/json"
	"flag"
	"log/slog"
	"math/rand"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

var answers = []string{
	"It is certain.", "It is decidedly so.", "Without a doubt.", "Yes definitely.",
	"You may rely on it.", "As I see it, yes.", "Most likely.", "Outlook good.", "Yes.",
	"Signs point to yes.", "Reply hazy, try again.", "Ask again later.",
	"Better not tell you now.", "Cannot predict now.", "Concentrate and ask again.",
	"Don't count on it.", "My reply is no.", "My sources say no.", "Outlook not so good.",
	"Very doubtful.",
}

func fizzbuzz(n int64) string {
	switch {
	case n%15 == 0:
		return "FizzBuzz"
	case n%3 == 0:
		return "Fizz"
	case n%5 == 0:
		return "Buzz"
	}
	return strconv.FormatInt(n, 10)
}

type reply struct {
	Answer   string `json:"answer"`
	Count    int64  `json:"count"`
	FizzBuzz string `json:"fizzbuzz"`
	Counter  string `json:"counter"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "ADDR:PORT")
	accessLog := flag.Bool("access-log", true, "log every request")
	flag.Parse()
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	var count atomic.Int64
	go func() {
		for range time.Tick(time.Second) {
			count.Add(1)
		}
	}()
	handler := func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		status := http.StatusOK
		switch {
		case r.URL.Path != "/":
			status = http.StatusNotFound
			http.Error(w, "not found: the only resource is /?q=<anything>", status)
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			status = http.StatusMethodNotAllowed
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: use GET or HEAD", status)
		case !r.URL.Query().Has("q"):
			status = http.StatusBadRequest
			http.Error(w, "missing query parameter q: ask with /?q=<anything>, e.g. /?q=1", status)
		default:
			n := count.Load()
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(reply{answers[rand.Intn(len(answers))], n, fizzbuzz(n), "ok"})
		}
		if *accessLog {
			logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", status,
				"duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
		}
	}
	logger.Info("listening", "address", *listen)
	if err := http.ListenAndServe(*listen, http.HandlerFunc(handler)); err != nil {
		logger.Error("serve", "error", err.Error())
		os.Exit(1)
	}
}
