/** The runtime's modules (python/runtime/), installed in a stdlib directory: light, for the estimates. */
export const RUNTIME_MODULES = ['_pyfloppy_runtime', 'sitecustomize'] as const;
