// Package apiserversource reconciles ApiServerSources: it resolves the
// sink and the kinds to watch, checks with SubjectAccessReviews that the
// source's service account may get, list and watch each of them where the
// adapter will watch, and only then runs the source's adapter as a
// Deployment (package sources/apiserver/adapter), whose availability it
// reports.
package apiserversource
