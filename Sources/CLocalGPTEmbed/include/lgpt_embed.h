#ifndef LGPT_EMBED_H
#define LGPT_EMBED_H
/* The local sentence embedder. Owned by the memory issue; see docs/ARCHITECTURE.md. */
#ifdef __cplusplus
extern "C" {
#endif
int lgpt_embed_version(void);
#ifdef __cplusplus
}
#endif
#endif
