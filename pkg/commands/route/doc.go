// Package route holds `fw route`: list and describe the Routes that give
// Services their URLs, one file per verb.
package route
