// Package limiter keeps the app within its container concurrency: at most
// N requests reach it at once, up to a bounded number more wait their turn
// in arrival order, and the rest are turned away with 503 at once, so that
// the activator or gateway can send them to a pod with room.
package limiter
