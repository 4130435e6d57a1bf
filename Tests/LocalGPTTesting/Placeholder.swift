public import LocalGPTCore
