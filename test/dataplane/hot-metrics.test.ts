import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Registry } from 'prom-client'
import { HotCounter, HotHistogram } from '../../dataplane/hot-metrics.ts'

describe('request-path metrics', () => {
  it('render in the Prometheus format, and keep counting through a registry reset', async () => {
    const registry = new Registry()
    const decisions = new HotCounter(registry, 'test_decisions_total', 'help', ['outcome'])
    const latency = new HotHistogram(registry, 'test_latency_seconds', 'help', [], [0.1, 1])
    const ok = decisions.cell('ok')
    const timing = latency.cell()
    ok.value++
    ok.value++
    timing.observe(0.05)
    timing.observe(0.5)
    let text = await registry.metrics()
    assert.match(text, /^test_decisions_total\{outcome="ok"\} 2$/m)
    assert.match(text, /^test_latency_seconds_bucket\{le="0.1"\} 1$/m)
    assert.match(text, /^test_latency_seconds_bucket\{le="1"\} 2$/m)
    assert.match(text, /^test_latency_seconds_count 2$/m)

    registry.resetMetrics()
    ok.value++ // a cell the request path holds on to
    timing.observe(5)
    text = await registry.metrics()
    assert.match(text, /^test_decisions_total\{outcome="ok"\} 1$/m)
    assert.match(text, /^test_latency_seconds_bucket\{le="1"\} 0$/m)
    assert.match(text, /^test_latency_seconds_bucket\{le="\+Inf"\} 1$/m)
    assert.match(text, /^test_latency_seconds_sum 5$/m)
  })
})
