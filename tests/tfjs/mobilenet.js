// @tensorflow-models/mobilenet 2.1.1 on one of our TF.js models, as web apps
// use it, in the wasm backend.
//   node mobilenet.js REQUEST.json
// REQUEST: {"model_dir", "version": 1|2, "alpha", "image": raw float32
// pixels in [0, 255], "shape": [H, W, 3], "results": path prefix}.
// Prints JSON: the top classes of classify(), and the embedding's shape;
// writes infer(img, true) as raw float32 `<results>.embedding.bin`.
'use strict';
const fs = require('fs');
const rt = require('./runtime');
const mobilenet = require('@tensorflow-models/mobilenet');

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const backend = await rt.useWasm();
  const model = await mobilenet.load({
    version: request.version, alpha: request.alpha,
    modelUrl: rt.diskHandler(request.model_dir), inputRange: [0, 1],
  });
  const image = rt.readFloat32(request.image, request.shape);
  const classes = await model.classify(image, 3);
  const embedding = model.infer(image, true);
  rt.writeFloat32(`${request.results}.embedding.bin`, await embedding.data());
  console.log(JSON.stringify({backend, classes, embedding: embedding.shape}));
}

main().catch(e => {
  console.error(e && e.stack || e);
  process.exit(1);
});
