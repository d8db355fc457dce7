// flgo: a small Go client for tests/integration/test_supervise.sh and the
// supervisor benchmark. Go makes its system calls without libc, so
// LD_PRELOAD never reaches it: only `faultline run`'s supervisor can.
//
//	flgo dial ADDR TIMEOUT_MS [HOLD_MS]  one dial: "ok MS" or "err MS: ERROR"
//	flgo loop ADDR N                     N dials, one line per failure, then "done"
//	flgo par ADDR N HOLD_MS              N goroutines dial at once and hold: "ok=K err=M"
//	flgo http URL N keepalive|new        N GETs; prints requests per second
//	flgo serve ADDR -                    an HTTP server answering "ok" (benchmark peer)
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "flgo: bad number", s)
		os.Exit(2)
	}
	return n
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: flgo dial|loop|http ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "dial":
		start := time.Now()
		c, err := net.DialTimeout("tcp", os.Args[2], time.Duration(atoi(os.Args[3]))*time.Millisecond)
		ms := time.Since(start).Milliseconds()
		if err != nil {
			fmt.Printf("err %d: %v\n", ms, err)
			os.Exit(1)
		}
		fmt.Printf("ok %d\n", ms)
		if len(os.Args) > 4 {
			time.Sleep(time.Duration(atoi(os.Args[4])) * time.Millisecond)
		}
		c.Close()
	case "loop":
		n := atoi(os.Args[3])
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", os.Args[2], 2*time.Second)
			if err != nil {
				fmt.Printf("err %d: %v\n", i, err)
				continue
			}
			c.Close()
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Println("done")
	case "par":
		n, hold := atoi(os.Args[3]), atoi(os.Args[4])
		var mu sync.Mutex
		var wg sync.WaitGroup
		ok, bad := 0, 0
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", os.Args[2], 5*time.Second)
				mu.Lock()
				if err != nil {
					bad++
				} else {
					ok++
				}
				mu.Unlock()
				if err == nil {
					time.Sleep(time.Duration(hold) * time.Millisecond)
					c.Close()
				}
			}()
		}
		wg.Wait()
		fmt.Printf("ok=%d err=%d\n", ok, bad)
	case "serve":
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
		fmt.Fprintln(os.Stderr, http.ListenAndServe(os.Args[2], nil))
		os.Exit(1)
	case "http":
		n := atoi(os.Args[3])
		tr := &http.Transport{DisableKeepAlives: len(os.Args) > 4 && os.Args[4] == "new"}
		cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		start := time.Now()
		for i := 0; i < n; i++ {
			r, err := cl.Get(os.Args[2])
			if err != nil {
				fmt.Printf("err %d: %v\n", i, err)
				os.Exit(1)
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		fmt.Printf("%.0f requests/s\n", float64(n)/time.Since(start).Seconds())
	}
}
