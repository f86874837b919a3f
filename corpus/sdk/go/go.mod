module sysinspect/sdk

go 1.24
