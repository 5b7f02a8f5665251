// Package sourcecmd holds what the commands of every kind of event source
// (`fw source ping|apiserver|binding|container`) share: the
// sources.knative.dev/v1 client they are given, the --sink and
// --ce-override flags, the verbs themselves (create, update, list,
// describe, delete) written once over a Kind that describes each kind, and
// the parsing of the KIND:APIVERSION references that --resource and
// --subject take. Every error names the flag and says how to fix it,
// before anything is sent.
package sourcecmd
