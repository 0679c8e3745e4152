// Package fielderr is the error type of every Validate method in Weft's
// configuration structs: one [Error] per problem, tied to the policy key it
// concerns, collected in a [List].
//
// The policy reader relies on the shape of these errors. It unwraps the
// error a Validate method returns into its problems (Unwrap() []error),
// splits each message on ": " and looks the first two parts up as keys, so
// that "retry: retries.attempts: must be ..." and
// "circuitBreaker.failureRatio: must be ..." are both placed at the line and
// column of the key they name. Code outside the policy reader retrieves a
// problem with errors.As and a *[Error] target, or all of them with a
// [List] target.
package fielderr
