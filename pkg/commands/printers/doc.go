// Package printers writes what the read commands show: objects as JSON or
// YAML (-o), exactly as the API has them, and the tables and sections of
// the human-readable lists and descriptions.
package printers
