// Package policy reads the mesh policy file: one YAML document, shared by
// every service of a mesh, that says how the mesh is named and secured and
// how clients call each destination service.
//
// The policy decodes into the same Config structs the mechanism packages use
// ([engine.DestinationConfig], [transport.EgressConfig], ...), so a field
// documented there is the field a user writes here. Decoding is strict: an
// unknown key, a duplicate key, a value of the wrong type or out of range is
// an error, and [Parse] reports every problem it finds at once, each as
// file:line:col, in an [ErrorList].
//
// A parsed [Policy] is normalised once: [Policy.Routing] holds the client
// side with every default applied, and the client engine uses it as it is;
// each default is written once, next to its field's documentation.
//
// [Watch] polls a policy file and hands each new valid version to a callback,
// keeping the policy in force when an edit is invalid; [CheckReload] tells
// which changes cannot be applied without a restart.
//
// The package is internal: the node and the weft command read policies
// through it; users write YAML, documented in docs/POLICY.md.
package policy
