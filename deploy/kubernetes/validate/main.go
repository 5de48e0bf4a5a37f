// Copyright 2026 The profiler agent authors
// SPDX-License-Identifier: Apache-2.0

// Command validate decodes Kubernetes manifests strictly against the real API types of k8s.io/api
// (unknown or duplicate fields are errors, as `kubectl apply --validate=strict` makes them) and
// prints, as JSON, one summary line per object for the test that checks what the manifests say.
//
//	go run . ../*.yaml
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// object is what the test reads: the kind and name of every object and the object itself as the
// API types re-encode it (so a field the types do not know cannot reach the test).
type object struct {
	File   string          `json:"file"`
	Kind   string          `json:"kind"`
	Name   string          `json:"name"`
	Object json.RawMessage `json:"object"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate FILE.yaml...")
		os.Exit(2)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, corev1.AddToScheme, rbacv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	decoder := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	out := json.NewEncoder(os.Stdout)
	failed := false
	for _, file := range os.Args[1:] {
		if err := decodeFile(file, decoder, out); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

func decodeFile(file string, decoder runtime.Decoder, out *json.Encoder) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for n := 1; ; n++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
		accessor, ok := obj.(interface{ GetName() string })
		if !ok {
			return fmt.Errorf("document %d: %s has no name", n, gvk.Kind)
		}
		if accessor.GetName() == "" {
			return fmt.Errorf("document %d: %s has an empty metadata.name", n, gvk.Kind)
		}
		raw, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("document %d: %w", n, err)
		}
		if err := out.Encode(object{File: file, Kind: gvk.Kind, Name: accessor.GetName(), Object: raw}); err != nil {
			return err
		}
	}
}
