package remote

// SetCreateHook makes every owned Create of m call h after it read the
// owner's generation (stage "read") and after it wrote the record, before
// it reads the generation again ("written"). Set it before the store is
// used concurrently.
func SetCreateHook(m *Memory, h func(stage string)) { m.createHook = h }

// SetDynamoCreateHook is SetCreateHook for a Dynamo.
func SetDynamoCreateHook(d *Dynamo, h func(stage string)) { d.createHook = h }
