import LocalGPTMemory
import Testing

@Test func memoryModuleLinks() {
    #expect(LocalGPTMemoryModule.embedderVersion == 0)
}
