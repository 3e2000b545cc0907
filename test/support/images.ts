// The tag of the images tests build and run: IMAGE_TAG (hack/images/build.sh and the link agent's build.sh read
// the same variable), so runs from several checkouts on one Docker engine do not overwrite each other's images.
export const IMAGE_TAG = process.env.IMAGE_TAG || 'dev';

/** mec-testbed/<name>:<IMAGE_TAG>. */
export function imageRef(name: string): string {
  return `mec-testbed/${name}:${IMAGE_TAG}`;
}

/** A manifest's image with this run's tag: the manifests name the local images mec-testbed/<name>:dev. */
export function withImageTag(image: string): string {
  const local = /^mec-testbed\/([a-z0-9-]+):dev$/.exec(image);
  return local ? imageRef(local[1] as string) : image;
}

/** Every container image of rendered objects, re-tagged with withImageTag (copies; the input is unchanged). */
export function withImageTags<T extends object>(objects: T[]): T[] {
  return objects.map((o) =>
    JSON.parse(JSON.stringify(o), (key, value) =>
      key === 'image' && typeof value === 'string' ? withImageTag(value) : value,
    ),
  );
}
