package eventload

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Senders is how many requests are in flight at most.
const Senders = 128

// SentTimeExtension is the extension that carries each event's send
// time, in Unix nanoseconds, for a sink to measure latency from.
const SentTimeExtension = "senttime"

// Load is what to send.
type Load struct {
	// Target is the URL events are posted to.
	Target string
	// Rate is events a second, for Duration.
	Rate     int
	Duration time.Duration
	// ID names event i (ce-id): unique across a Broker's last two
	// minutes, which keep one copy of an id.
	ID func(i int) string
	// Source and Type are every event's ce-source and ce-type.
	Source, Type string
}

// Result counts the answers: accepted (2xx), and failed (any other
// answer, or none).
type Result struct {
	Accepted, Failed int64
}

// Send posts l's events in binary mode, paced by the clock, from
// Senders goroutines, and returns once every one was answered.
func Send(l Load) Result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: Senders}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var accepted, failed atomic.Int64
	jobs := make(chan int, Senders)
	var wg sync.WaitGroup
	for range Senders {
		wg.Go(func() {
			for i := range jobs {
				req, _ := http.NewRequest(http.MethodPost, l.Target, bytes.NewReader([]byte(`{"n":`+strconv.Itoa(i)+`}`)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Ce-Specversion", "1.0")
				req.Header.Set("Ce-Id", l.ID(i))
				req.Header.Set("Ce-Source", l.Source)
				req.Header.Set("Ce-Type", l.Type)
				req.Header.Set("Ce-"+SentTimeExtension, strconv.FormatInt(time.Now().UnixNano(), 10))
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_ = resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					accepted.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	// Paced by the clock, not a ticker: at thousands a second a ticker
	// drops ticks.
	total := int(float64(l.Rate) * l.Duration.Seconds())
	start := time.Now()
	for sent := 0; sent < total; {
		due := min(total, int(time.Since(start).Seconds()*float64(l.Rate)))
		for ; sent < due; sent++ {
			jobs <- sent
		}
		time.Sleep(time.Millisecond)
	}
	close(jobs)
	wg.Wait()
	return Result{Accepted: accepted.Load(), Failed: failed.Load()}
}
