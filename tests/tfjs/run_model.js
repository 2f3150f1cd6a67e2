// Runs a TF.js graph model from disk in the wasm backend.
//   node run_model.js REQUEST.json
// REQUEST: {"model_dir", "input", "shape", "outputs": [node names; empty:
// the signature's output], "results": path prefix, "repeat": timed runs}.
// Writes each output as raw float32 `<results>.<i>.bin`; prints JSON with
// the backend, the model's input and output names, dtypes and shapes, each
// result's shape and, with "repeat", the median milliseconds per run.
'use strict';
const fs = require('fs');
const rt = require('./runtime');

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const backend = await rt.useWasm();
  const model = await rt.tfconv.loadGraphModel(
      rt.diskHandler(request.model_dir));
  const input = rt.readFloat32(request.input, request.shape);
  const names = request.outputs && request.outputs.length ?
      request.outputs : undefined;
  const run = () => {
    const out = names ? model.execute(input, names) : model.predict(input);
    return Array.isArray(out) ? out : [out];
  };
  const outputs = run();
  const shapes = [];
  for (let i = 0; i < outputs.length; i++) {
    rt.writeFloat32(`${request.results}.${i}.bin`, await outputs[i].data());
    shapes.push(outputs[i].shape);
    outputs[i].dispose();
  }
  const report = {
    backend, shapes,
    inputs: model.inputs.map(t => ({name: t.name, dtype: t.dtype,
                                    shape: t.shape})),
    outputs: model.outputs.map(t => ({name: t.name, dtype: t.dtype,
                                      shape: t.shape})),
  };
  if (request.repeat) {
    const times = [];
    for (let r = 0; r < request.repeat; r++) {
      const start = process.hrtime.bigint();
      const out = run();
      for (const t of out) {
        await t.data();
        t.dispose();
      }
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    report.median_ms = times[Math.floor(times.length / 2)];
  }
  console.log(JSON.stringify(report));
}

main().catch(e => {
  console.error(e && e.stack || e);
  process.exit(1);
});
