// Package service holds `fw service`: create, update, apply, list,
// describe and delete Knative Services, one file per verb.
package service
