package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: broker nats|ingress|dispatcher|send [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	natsAddr := fs.String("nats", "127.0.0.1:14222", "NATS's address")
	store := fs.String("store", os.TempDir(), "NATS's storage directory")
	ingressAddr := fs.String("ingress", "127.0.0.1:18080", "the ingress's address")
	sink := fs.String("sink", "http://127.0.0.1:18090/", "the Trigger's subscriber")
	rate := fs.Int("rate", 1000, "events a second to send")
	duration := fs.Duration("duration", 8*time.Second, "how long to send")
	_ = fs.Parse(os.Args[2:])
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var err error
	switch os.Args[1] {
	case "nats":
		err = runNATS(ctx, *natsAddr, *store)
	case "ingress":
		err = runIngress(ctx, *natsAddr, *ingressAddr)
	case "dispatcher":
		err = runDispatcher(ctx, *natsAddr, *sink)
	case "send":
		err = send(*ingressAddr, *rate, *duration)
	default:
		err = fmt.Errorf("no part %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
