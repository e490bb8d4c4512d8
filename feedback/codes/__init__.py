"""Chinese codes and formats: GB/T 2260 regions, GB 32100 credit codes, phone numbers."""
