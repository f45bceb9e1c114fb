// A kube-devops analyzer plugin in JavaScript: the `analyzer` world of wit/analyzer.wit
// (contract 0.2.2: `metadata`, `configure`, `analyze`), made a component by componentize-js
// (`npm run build`).
//
// How WIT maps to JavaScript: names are camelCase (`defaultSeverity`), enums are strings
// (`'high'`, `'spec'`), an absent `option` is `undefined`, and `result<_, string>` is a normal
// return for ok and a thrown string for err. The pod `analyze` receives is the borrowed `pod`
// resource: an object whose methods (`pod.metadata()`, `pod.spec()`, `pod.containers()`,
// `pod.initContainers()`, ...) each copy one part of the pod into the component when called, so
// read only the parts the check needs, once each, and do not keep the object after `analyze`.

const CHECK_ID = 'js-latest-tag';

export function metadata() {
  return {
    name: 'no-latest-js',
    version: '0.1.0',
    description: 'Flags containers whose image is untagged or uses the latest tag (JS plugin)',
    checks: [
      {
        id: CHECK_ID,
        description: 'Container image has no tag or the `latest` tag; pin a version or a digest',
        defaultSeverity: 'high',
        defaultWeight: 5,
        kind: 'spec',
      },
    ],
  };
}

// result<_, string>: return normally for ok, throw for err (the thrown value
// becomes the error payload).
export function configure(settings) {
  let parsed;
  try {
    parsed = JSON.parse(settings);
  } catch (e) {
    throw `settings: not valid JSON: ${e.message}`;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw 'settings: expected a JSON object';
  }
  const keys = Object.keys(parsed);
  if (keys.length > 0) {
    throw `settings: unknown setting \`${keys[0]}\` (this plugin takes none)`;
  }
}

// Returns the tag of an image reference, '' if it has none, or null if it is
// pinned by digest.
function imageTag(image) {
  if (image.includes('@')) return null; // name@sha256:... (digest pins it)
  const lastSlash = image.lastIndexOf('/');
  const lastPart = image.slice(lastSlash + 1); // ports (host:5000/) are before the last slash
  const colon = lastPart.lastIndexOf(':');
  return colon < 0 ? '' : lastPart.slice(colon + 1);
}

export function analyze(pod) {
  const findings = [];
  // Init and regular containers, as the built-in `latest-tag` check reads: only these two parts
  // of the pod are copied in (not its metadata, volumes or status).
  const all = [...pod.initContainers(), ...pod.containers()];
  for (const c of all) {
    const tag = imageTag(c.image);
    if (tag === null) continue;
    if (tag === '' || tag === 'latest') {
      findings.push({
        check: CHECK_ID,
        container: c.name,
        message: tag === ''
          ? `image \`${c.image}\` has no tag (means latest); pin a version or a digest`
          : `image \`${c.image}\` uses the latest tag; pin a version or a digest`,
        magnitude: 1,
        severity: undefined,
      });
    }
  }
  return findings;
}
