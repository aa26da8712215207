package main

import (
	"encoding/json"
	"sort"
	"strings"
)

// openAPI builds the OpenAPI 3.1 document of the gateway from the contract
// spec: one path per operation (POST /v1/{service}/{operation}) with
// operationId `{service}.{operation}`, its request and reply schemas, its
// error responses (the contract's error body, by status), bearer security
// on B operations and the Idempotency-Key header on I operations; and the
// gateway's own paths: the probes and the published key set.
func openAPI(spec *Spec) map[string]any {
	schemas := map[string]any{}
	for name, raw := range spec.Schemas {
		// The spec's schemas refer to each other as #/schemas/{name}.
		fixed := strings.ReplaceAll(string(raw), `"#/schemas/`, `"#/components/schemas/`)
		var schema any
		_ = json.Unmarshal([]byte(fixed), &schema)
		schemas[name] = schema
	}
	ref := func(name string) map[string]any {
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	errorResponse := func(description string) map[string]any {
		return map[string]any{
			"description": description,
			"headers":     map[string]any{"X-Correlation-Id": map[string]any{"$ref": "#/components/headers/CorrelationId"}},
			"content":     map[string]any{"application/json": map[string]any{"schema": ref("ErrorBody")}},
		}
	}
	// Codes by status, for each error response's description.
	codes := map[int][]string{}
	for _, e := range spec.Errors {
		codes[e.Status] = append(codes[e.Status], e.Code)
	}
	paths := map[string]any{}
	for _, op := range spec.Operations {
		responses := map[string]any{
			"200": map[string]any{
				"description": "the reply",
				"headers":     map[string]any{"X-Correlation-Id": map[string]any{"$ref": "#/components/headers/CorrelationId"}},
				"content":     map[string]any{"application/json": map[string]any{"schema": ref(op.Reply)}},
			},
			"503": errorResponse("unavailable: NATS is not connected or no worker answers (the request was not sent), " +
				"or a dependency is down, or (bearer operations, -verify-tokens) the gateway does not know the signing keys yet; " +
				"Retry-After: safe to retry"),
			"504": errorResponse("unavailable: sent, but no reply in time (details.outcome unknown); Retry-After: " +
				"retry only with an Idempotency-Key"),
		}
		statuses := make([]int, 0, len(codes))
		for status := range codes {
			statuses = append(statuses, status)
		}
		sort.Ints(statuses)
		for _, status := range statuses {
			key := itoa(status)
			if _, done := responses[key]; !done {
				responses[key] = errorResponse(strings.Join(codes[status], ", "))
			}
		}
		parameters := []any{
			map[string]any{"$ref": "#/components/parameters/CorrelationId"},
			map[string]any{"$ref": "#/components/parameters/Traceparent"},
		}
		if op.IdempotencyKey {
			parameters = append(parameters, map[string]any{"$ref": "#/components/parameters/IdempotencyKey"})
		}
		operation := map[string]any{
			"operationId": op.Service + "." + op.Operation,
			"summary":     op.Service + "." + op.Operation + " (" + op.Who + ")",
			"tags":        []string{op.Service},
			"parameters":  parameters,
			"requestBody": map[string]any{
				"required": false,
				"content":  map[string]any{"application/json": map[string]any{"schema": ref(op.Request)}},
			},
			"responses": responses,
		}
		if op.Access == "bearer" {
			operation["security"] = []any{map[string]any{"bearer": []string{}}}
		} else {
			operation["security"] = []any{}
		}
		paths[routePath(op)] = map[string]any{"post": operation}
	}
	paths["/healthz"] = map[string]any{"get": map[string]any{
		"operationId": "gateway.healthz", "security": []any{},
		"responses": map[string]any{"200": map[string]any{"description": "the gateway runs"}},
	}}
	paths["/readyz"] = map[string]any{"get": map[string]any{
		"operationId": "gateway.readyz", "security": []any{},
		"responses": map[string]any{
			"200": map[string]any{"description": "NATS is connected and every worker answers $SRV.PING"},
			"503": map[string]any{"description": "not ready"},
		},
	}}
	paths[jwksPath] = map[string]any{"get": map[string]any{
		"operationId": "gateway.jwks",
		"summary":     "the access tokens' published key set (auth.jwks), for verifying them",
		"tags":        []string{"auth"},
		"security":    []any{},
		"parameters":  []any{map[string]any{"$ref": "#/components/parameters/CorrelationId"}},
		"responses": map[string]any{
			"200": map[string]any{
				"description": "every published key (JWK set, RFC 7517); refetch it on a token whose kid it lacks",
				"headers": map[string]any{
					"X-Correlation-Id": map[string]any{"$ref": "#/components/headers/CorrelationId"},
					"Cache-Control": map[string]any{
						"description": jwksCacheControl + ": shorter than the time a new key is published before it signs",
						"schema":      map[string]any{"type": "string"},
					},
				},
				"content": map[string]any{"application/json": map[string]any{"schema": ref(jwksSchema(spec))}},
			},
			"500": errorResponse("internal"),
			"502": errorResponse("internal: the worker's reply could not be read"),
			"503": errorResponse("unavailable: NATS is not connected or the auth worker does not answer; Retry-After: safe to retry"),
			"504": errorResponse("unavailable: no reply in time; Retry-After: safe to retry (a read)"),
		},
	}}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "Olympus",
			"version": itoa(spec.Version),
			"description": "The Olympus wire contract over HTTP: every operation is POST /v1/{service}/{operation} " +
				"with the request object as JSON; replies and coded errors are JSON.",
		},
		"paths":    paths,
		"security": []any{map[string]any{"bearer": []string{}}},
		"components": map[string]any{
			"schemas": schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
			},
			"parameters": map[string]any{
				"CorrelationId": map[string]any{
					"name": "X-Correlation-Id", "in": "header", "required": false,
					"schema": map[string]any{"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
				},
				"Traceparent": map[string]any{
					"name": "traceparent", "in": "header", "required": false,
					"schema": map[string]any{"type": "string"},
				},
				"IdempotencyKey": map[string]any{
					"name": "Idempotency-Key", "in": "header", "required": false,
					"schema": map[string]any{"type": "string", "minLength": 1, "maxLength": 255},
				},
			},
			"headers": map[string]any{
				"CorrelationId": map[string]any{
					"description": "the request's, or a new one",
					"schema":      map[string]any{"type": "string"},
				},
			},
		},
	}
}

// jwksSchema names the schema of the key set: the spec's reply of
// auth.jwks (the embedded spec has it; TestTheKeySetsSchemaIsTheSpecs).
func jwksSchema(spec *Spec) string {
	for _, op := range spec.Operations {
		if op.Service == "auth" && op.Operation == "jwks" {
			return op.Reply
		}
	}
	return ""
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
