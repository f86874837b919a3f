module sysinspect/modules/@ID@

go 1.24

require sysinspect/sdk v0.0.0

replace sysinspect/sdk => ./sdk/go
