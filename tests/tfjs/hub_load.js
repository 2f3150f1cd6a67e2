// Loads a TF.js graph model from a hub as tfhub.dev's users did:
// tf.loadGraphModel(url, {fromTFHub: true}), over HTTP, wasm backend.
//   node hub_load.js REQUEST.json
// REQUEST: {"url", "input", "shape", "results": path prefix}. Writes the
// output as raw float32 `<results>.0.bin`; prints JSON with the backend,
// the URLs fetched and the output's shape.
'use strict';
const fs = require('fs');
const rt = require('./runtime');

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const backend = await rt.useWasm();
  const fetched = [];
  const fetchFunc = (url, init) => {
    fetched.push(String(url));
    return fetch(url, init);
  };
  const model = await rt.tfconv.loadGraphModel(
      request.url, {fromTFHub: true, fetchFunc});
  const input = rt.readFloat32(request.input, request.shape);
  const output = model.predict(input);
  rt.writeFloat32(`${request.results}.0.bin`, await output.data());
  console.log(JSON.stringify({backend, fetched, shape: output.shape}));
}

main().catch(e => {
  console.error(e && e.stack || e);
  process.exit(1);
});
