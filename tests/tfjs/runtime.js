// TF.js in Node for the tests and benchmarks: the WebAssembly backend, and
// graph models loaded from disk through an IOHandler (`file://` loading
// needs @tensorflow/tfjs-node, whose install script downloads libtensorflow).
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
const tfconv = require('@tensorflow/tfjs-converter');
const wasm = require('@tensorflow/tfjs-backend-wasm');

// Reads model.json and its weight shards, in manifest order, as
// loadGraphModel would fetch them from `<url>/model.json?tfjs-format=file`.
function diskHandler(modelDir) {
  return {
    load: async () => {
      const model = JSON.parse(
          fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
      const weightSpecs = [];
      const buffers = [];
      for (const group of model.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) {
          buffers.push(fs.readFileSync(path.join(modelDir, shard)));
        }
      }
      const data = Buffer.concat(buffers);
      return {
        modelTopology: model.modelTopology,
        format: model.format,
        generatedBy: model.generatedBy,
        convertedBy: model.convertedBy,
        signature: model.signature,
        userDefinedMetadata: model.userDefinedMetadata,
        weightSpecs,
        weightData: data.buffer.slice(
            data.byteOffset, data.byteOffset + data.byteLength),
      };
    },
  };
}

async function useWasm() {
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  wasm.setWasmPaths(dist + path.sep);
  await tf.setBackend('wasm');
  await tf.ready();
  return tf.getBackend();
}

function readFloat32(file, shape) {
  const bytes = fs.readFileSync(file);
  const values = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return tf.tensor(values, shape, 'float32');
}

function writeFloat32(file, values) {
  fs.writeFileSync(file, Buffer.from(new Float32Array(values).buffer));
}

module.exports = {tf, tfconv, diskHandler, useWasm, readFloat32,
                  writeFloat32};
