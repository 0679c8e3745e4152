package policy

import (
	"fmt"
	"reflect"
)

// CheckReload reports the changes from old to new that a running node
// cannot apply: any key under mesh (the node would have to leave and rejoin
// the gossip layer), admin.listen (the listener is bound at start),
// services.*.grpcReflection (registered before a server serves), security.identity and
// security.idTemplate (the identity is obtained at start),
// telemetry.tracing.otlp and telemetry.metrics (exporters are built at
// start). A
// node calls it from [WatchConfig.Apply] so that such an edit is rejected
// and the policy in force kept. The error is an [ErrorList] positioned in
// new's file where the key is present; nil means new can be applied live.
func CheckReload(old, new *Policy) error {
	if old == nil || new == nil {
		return nil
	}
	var errs ErrorList
	oldMesh, newMesh := reflect.ValueOf(old.Mesh), reflect.ValueOf(new.Mesh)
	fields := structFields(oldMesh.Type())
	for _, key := range fields.names {
		i := fields.index[key]
		a, b := oldMesh.FieldByIndex(i).Interface(), newMesh.FieldByIndex(i).Interface()
		if !reflect.DeepEqual(a, b) {
			errs = append(errs, new.restartError("mesh."+key, a, b))
		}
	}
	if old.Admin.Listen != new.Admin.Listen {
		errs = append(errs, new.restartError("admin.listen", old.Admin.Listen, new.Admin.Listen))
	}
	// Reflection is registered on a gRPC server before it serves.
	for name, svc := range new.Services {
		if was := old.Services[name].GRPCReflection; was != svc.GRPCReflection {
			errs = append(errs, new.restartError("services."+name+".grpcReflection", was, svc.GRPCReflection))
		}
	}
	for name, svc := range old.Services {
		if _, ok := new.Services[name]; !ok && svc.GRPCReflection {
			errs = append(errs, new.restartError("services."+name+".grpcReflection", true, false))
		}
	}
	// The identity is obtained once, at start; the mTLS modes and the
	// authorization rules apply live.
	if !reflect.DeepEqual(old.Security.Identity, new.Security.Identity) {
		errs = append(errs, new.restartError("security.identity", nil, nil))
	}
	if old.Security.IDTemplate != new.Security.IDTemplate {
		errs = append(errs, new.restartError("security.idTemplate", old.Security.IDTemplate, new.Security.IDTemplate))
	}
	// Exporters are built at start; the sample ratio and the access log
	// apply live.
	if !reflect.DeepEqual(old.Telemetry.Tracing.OTLP, new.Telemetry.Tracing.OTLP) {
		errs = append(errs, new.restartError("telemetry.tracing.otlp", nil, nil))
	}
	if !reflect.DeepEqual(old.Telemetry.Metrics, new.Telemetry.Metrics) {
		errs = append(errs, new.restartError("telemetry.metrics", nil, nil))
	}
	if len(errs) == 0 {
		return nil
	}
	sortErrors(errs)
	return errs
}

// restartError describes a change at path that needs a restart, positioned
// at the key if p's file has it, else at its nearest parent present.
func (p *Policy) restartError(path string, from, to any) *Error {
	change := "changed"
	if a, ok := from.(string); ok {
		change = fmt.Sprintf("changed from %q to %q", a, to)
	}
	e := &Error{File: p.Source, Msg: fmt.Sprintf("%s: %s, which requires a restart; the running node keeps the policy in force until it is restarted", path, change)}
	for at := path; at != ""; at = parentPath(at) {
		if pos, ok := p.positions[at]; ok {
			e.Line, e.Column = pos.line, pos.column
			break
		}
	}
	return e
}

func parentPath(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '.' {
			return path[:i]
		}
	}
	return ""
}
