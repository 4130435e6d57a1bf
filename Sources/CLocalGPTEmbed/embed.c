#include "lgpt_embed.h"
int lgpt_embed_version(void) { return 0; }
